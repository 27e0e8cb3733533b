"""`nanotf.compat.v1` is the nanotf module itself (TF 1.x's API is nanotf's API)."""
import sys

import nanotf

sys.modules[__name__] = nanotf
