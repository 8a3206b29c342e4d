"""`minigen.utils.data` is `minigen.data` (DataLoader, ArrayDataset, the data sets), as torch.utils.data:
`import minigen.utils.data` gives the same module object."""
import sys

from .. import data

sys.modules[__name__] = data
