"""tongket: the periodic review reports of the "Toàn dân bảo vệ an ninh Tổ quốc" movement.

The repository keeps `models/`, `scheduler/` and `worker/` at its top, as the design card has them; this
package links them in, so they are imported and installed as `tongket.models`, `tongket.scheduler` and
`tongket.worker` and cannot collide with other code's generic top-level names.
"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("tongket")
except PackageNotFoundError:  # run from a checkout that was never installed
    __version__ = "0+unknown"
