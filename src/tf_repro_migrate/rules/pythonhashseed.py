"""TRM006 pythonhashseed: report ``os.environ['PYTHONHASHSEED'] = ...`` set inside the script.

Python reads ``PYTHONHASHSEED`` once, at interpreter start-up; setting it in the
running script changes nothing for that process (only for subprocesses it starts).
The line is kept (it is harmless and workers may rely on it); the finding tells the
user to export the variable before launch. ``tf-repro-migrate verify`` pins it.

Docs: https://docs.python.org/3/using/cmdline.html#envvar-PYTHONHASHSEED
"""

from __future__ import annotations

from tf_repro_migrate.analysis import env_writes
from tf_repro_migrate.context import Context
from tf_repro_migrate.findings import Safety
from tf_repro_migrate.rules import Rule


class PythonHashSeed(Rule):
    code = "TRM006"
    name = "pythonhashseed"
    summary = "report PYTHONHASHSEED set inside the script (it only works when set before launch)"
    safety = Safety.MANUAL
    order = 70
    triggers = ("PYTHONHASHSEED",)
    in_compat_v1_files = True

    def run(self, ctx: Context) -> None:
        for write in env_writes(ctx):
            if write.key == "PYTHONHASHSEED":
                ctx.report(
                    write.node,
                    self.code,
                    "PYTHONHASHSEED set inside the script does not affect the running interpreter: "
                    "export it before launch (tf-repro-migrate verify does); line kept",
                    Safety.MANUAL,
                )
