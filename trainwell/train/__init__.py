"""Training: typed state, ordered callbacks, the Trainer loop, tasks, atomic resumable checkpoints,
data-parallel runs (`distributed`, `launch`, `sync_batchnorm`)."""
from trainwell.train.callbacks import Callback
from trainwell.train.checkpoint import load_checkpoint, save_checkpoint
from trainwell.train.evaluate import evaluate, predict_logits
from trainwell.train.settings import TrainerSettings
from trainwell.train.state import TrainState
from trainwell.train.tasks import Classification, MultiLabel, Regression, Task
from trainwell.train.trainer import Trainer, cross_entropy

__all__ = ["Callback", "Classification", "MultiLabel", "Regression", "Task", "TrainState", "Trainer",
           "TrainerSettings", "cross_entropy", "evaluate", "predict_logits", "load_checkpoint", "save_checkpoint"]
