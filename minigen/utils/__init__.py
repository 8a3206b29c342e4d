"""torch.utils's place for the data tools: `minigen.utils.data` is `minigen.data`."""
from . import data  # noqa: F401
