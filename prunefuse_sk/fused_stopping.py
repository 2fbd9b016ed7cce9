"""When the fused network stops training: once its training loss levels off.

The fused network starts from the trained proxy, so it does not have to earn its fit as a
network trained from scratch does: on Fashion-MNIST it reached full-model active learning's
accuracy in 2 to 3 epochs where the same network from scratch needed 9 to 14
(``benchmarks/README.md``). :class:`FusedStopping`, a skorch callback, turns that head start
into a rule that costs no labels: after at least a third of ``max_epochs``, stop once the
training loss has not improved on its best for ``patience`` epochs (its loss levels off
sooner than a scratch network's), or, with a ``target_loss`` (the learner's
``fused_stopping="proxy-loss"``), at the end of the first epoch whose training loss is at
most the trained proxy's last one; in any case after ``max_epochs``. The epoch and the
reason are recorded in the net's history (``stop_reason``).
"""

import numpy as np
import torch
import torch.distributed as dist
from skorch.callbacks import Callback

__all__ = [
    "FUSED_STOPPING",
    "FusedStopping",
    "add_fused_stopping",
    "resolve_fused_stopping",
    "stop_reason",
]

#: the learner's ``fused_stopping`` values
FUSED_STOPPING = ("auto", "loss-plateau", "proxy-loss", "none")

MAX_EPOCHS = "max_epochs"


class FusedStopping(Callback):
    """Stop training once the training loss reaches a target or stops improving.

    One hook, ``on_epoch_end``: it reads the epoch's ``train_loss`` from the net's history
    and, when a rule fires, records ``stop_reason`` in that epoch's row and ends training
    (by raising ``KeyboardInterrupt``, which skorch's fit loop catches, as its own
    ``EarlyStopping`` does).

    Parameters
    ----------
    target_loss : float, default=None
        Stop at the end of the first epoch whose training loss is at most this (the trained
        proxy's last training loss). None: only the plateau rule.
    patience : int, default=2
        Stop when the training loss has not improved on its best for this many epochs.
        None: only the target.
    min_epochs : int, default=1
        Neither rule stops training before this many epochs.

    Examples
    --------
    >>> import numpy as np, torch
    >>> from skorch import NeuralNetClassifier
    >>> from prunefuse_sk.networks import MLP
    >>> _ = torch.manual_seed(0)
    >>> rule = FusedStopping(target_loss=0.5, patience=None)  # the target only
    >>> net = NeuralNetClassifier(
    ...     MLP, module__n_features=2, module__n_classes=2, max_epochs=50, lr=0.1,
    ...     train_split=None, verbose=0, callbacks=[rule],
    ... )
    >>> X = np.array([[0, 0], [1, 1]] * 20, dtype=np.float32)
    >>> y = np.array([0, 1] * 20)
    >>> _ = net.fit(X, y)
    >>> len(net.history) < 50, stop_reason(net).split(":")[0]
    (True, 'caught up with the proxy')
    """

    def __init__(self, target_loss=None, patience=2, min_epochs=1):
        self.target_loss = target_loss
        self.patience = patience
        self.min_epochs = min_epochs

    def on_epoch_end(self, net, **kwargs):
        """Check the epoch's training loss; record the reason and stop when a rule fires.

        Parameters
        ----------
        net : skorch.NeuralNet
        **kwargs
            skorch's epoch arguments (unused).

        Raises
        ------
        KeyboardInterrupt
            To end skorch's fit loop (caught there).
        """
        losses = np.asarray(net.history[:, "train_loss"], dtype=float)
        if len(losses) < self.min_epochs:
            return
        target = np.nan if self.target_loss is None else float(self.target_loss)
        # processes of a distributed run decide on the mean of their losses, so all stop at once
        losses, target = _process_mean(losses, target)
        loss = losses[-1]
        reason = None
        if self.target_loss is not None and loss <= target:
            reason = (
                f"caught up with the proxy: training loss {loss:.4g} <= the trained "
                f"proxy's {target:.4g}"
            )
        elif self.patience is not None and len(losses) - 1 - np.argmin(losses) >= self.patience:
            reason = (
                f"training loss plateau: no improvement on {losses.min():.4g} for "
                f"{self.patience} epochs"
            )
        if reason is not None and len(net.history) < net.max_epochs:
            net.history.record("stop_reason", reason)
            raise KeyboardInterrupt


def _process_mean(losses, target):
    """The losses and the target averaged over the processes of a ``torch.distributed`` run
    (each trains on its own shard, so each sees other losses); unchanged in a single process."""
    if not (dist.is_available() and dist.is_initialized()) or dist.get_world_size() == 1:
        return losses, target
    device = (
        torch.device("cuda", torch.cuda.current_device())
        if dist.get_backend() == "nccl"
        else torch.device("cpu")
    )
    values = torch.tensor([*losses, target], dtype=torch.float64, device=device)
    dist.all_reduce(values)
    values = (values / dist.get_world_size()).cpu().numpy()
    return values[:-1], float(values[-1])


def add_fused_stopping(
    net, proxy, *, rule="loss-plateau", distills=False, patience=2, min_epochs=None
):
    """Give an unfitted fused net the :class:`FusedStopping` rule: a training-loss plateau, and
    with ``rule="proxy-loss"`` also the proxy's last training loss as a target.

    The callback is appended to the net's ``callbacks`` (as ``"fused_stopping"``, after those
    of the estimator and ``fused_params``); a net whose callbacks are ``"disable"`` is left as
    it is.

    Parameters
    ----------
    net : skorch.NeuralNet
        Modified in place.
    proxy : skorch.NeuralNet
        The trained proxy; its history's last ``train_loss`` is the ``"proxy-loss"`` target.
    rule : {"loss-plateau", "proxy-loss"}, default="loss-plateau"
    distills : bool, default=False
        The fused net's loss holds a distillation term, not comparable with the proxy's loss:
        only the plateau rule. So too when the proxy trained with fewer ``max_epochs`` than
        the fused net (``proxy_params={"max_epochs": ...}``): its loss is then that of a
        deliberately short training, no target for the full network.
    patience : int, default=2
    min_epochs : int, default=None
        None: a third of the net's ``max_epochs``, rounded up (5 of 15), so a proxy trained
        briefly cannot end the full network's training after one epoch.

    Returns
    -------
    net : skorch.NeuralNet
    """
    if net.callbacks == "disable":
        return net
    target = None
    comparable = rule == "proxy-loss" and not distills and proxy.max_epochs >= net.max_epochs
    if comparable and len(proxy.history) and "train_loss" in proxy.history[-1]:
        target = float(proxy.history[-1, "train_loss"])
    if min_epochs is None:
        min_epochs = max(1, -(-int(net.max_epochs) // 3))
    callback = FusedStopping(target_loss=target, patience=patience, min_epochs=min_epochs)
    net.set_params(callbacks=[*(net.callbacks or []), ("fused_stopping", callback)])
    return net


def resolve_fused_stopping(rule, *, token_ids):
    """The rule ``"auto"`` stands for: ``"proxy-loss"`` for a network that takes features,
    ``"loss-plateau"`` for one that takes token ids; any other rule is itself.

    Measured (``benchmarks/README.md``, 3 seeds): on Fashion-MNIST the fused network that
    stopped at the proxy's loss (5 or 6 of 15 epochs) was as accurate as the one stopped on a
    plateau (12 to 15 epochs) at two thirds of the session time; on 20 Newsgroups text
    networks stopped that early lost accuracy, since they keep learning from their wider
    embeddings and filters long after they fit the proxy's loss.

    Parameters
    ----------
    rule : {"auto", "loss-plateau", "proxy-loss", "none"}
    token_ids : bool
        Whether the network's input layer is an embedding.

    Returns
    -------
    rule : {"loss-plateau", "proxy-loss", "none"}

    Examples
    --------
    >>> resolve_fused_stopping("auto", token_ids=False)
    'proxy-loss'
    >>> resolve_fused_stopping("auto", token_ids=True)
    'loss-plateau'
    """
    if rule != "auto":
        return rule
    return "loss-plateau" if token_ids else "proxy-loss"


def stop_reason(net):
    """Why a net's last training run stopped: the rule :class:`FusedStopping` recorded, or
    ``"max_epochs"``.

    Parameters
    ----------
    net : skorch.NeuralNet
        Fitted.

    Returns
    -------
    reason : str
    """
    if not len(net.history):
        return "not trained"
    return net.history[-1].get("stop_reason", MAX_EPOCHS)
