"""tongket: the periodic review reports of the "Toàn dân bảo vệ an ninh Tổ quốc" movement.

The repository keeps `models/`, `scheduler/` and `worker/` at its top, as the design card has them; this
package links them in, so they are imported and installed as `tongket.models`, `tongket.scheduler` and
`tongket.worker` and cannot collide with other code's generic top-level names.
"""
