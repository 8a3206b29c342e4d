"""`minigen.nn.functional` is `minigen.functional` (as torch.nn.functional): `import minigen.nn.functional as F`
gives the same module object, so there is one F with one set of functions."""
import sys

from .. import functional

sys.modules[__name__] = functional
