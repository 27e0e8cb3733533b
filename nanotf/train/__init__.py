"""tf.train: optimizers, the global step, learning-rate schedules, Saver and checkpoint files."""
from nanotf.training.optimizer import *  # noqa: F401,F403
from nanotf.training.training_util import *  # noqa: F401,F403
from nanotf.training.learning_rate_decay import *  # noqa: F401,F403
from nanotf.training.saver import *  # noqa: F401,F403
from nanotf.summary.writer import FileWriter as SummaryWriter  # noqa: F401  (the seed's name)
