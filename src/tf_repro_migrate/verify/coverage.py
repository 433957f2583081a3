"""What a run's capture covers, in words: subprocesses that were not
followed, custom loops stopped by ``--max-steps``, optimizers found as model
attributes.  Used by :mod:`cli` for the verdict text and the report's notes.

Nothing here imports TensorFlow or Keras.
"""

from __future__ import annotations

from typing import Any

NOTHING_CAPTURED = (
    "nothing was captured: the script never called Model.fit() or train_on_batch() "
    "(Keras 3 or tf_keras) nor stepped a Keras optimizer, so there is nothing to compare "
    "(this is not a sign of reproducibility)."
)


def python_subprocesses(result: dict[str, Any] | None) -> list[dict[str, Any]]:
    """The Python processes (subprocess, os.system, multiprocessing) a run started."""
    return [p for p in (result or {}).get("subprocesses") or [] if p.get("python")]


def _examples(procs: list[dict[str, Any]]) -> str:
    shown = [f"`{p['command']}`" for p in procs[:2]]
    more = f" and {len(procs) - 2} more" if len(procs) > 2 else ""
    return ", ".join(shown) + more


def nothing_captured_message(result: dict[str, Any] | None) -> str:
    """The INCONCLUSIVE summary when nothing was trained in the script's process."""
    procs = python_subprocesses(result)
    if not procs:
        return NOTHING_CAPTURED
    return (
        f"nothing was captured in the script's own process, but it started {len(procs)} Python "
        f"subprocess{'es' if len(procs) != 1 else ''} ({_examples(procs)}): verify does not follow "
        "subprocesses, so training there was neither captured nor compared. Run verify on the "
        "script that trains (pass its arguments after --)."
    )


def notes(result: dict[str, Any] | None, max_steps: int | None) -> list[str]:
    """Caveats about what the reference run's capture covers."""
    out: list[str] = []
    result = result or {}
    procs = python_subprocesses(result)
    if procs and result.get("captures"):
        out.append(
            f"the script started {len(procs)} Python subprocess{'es' if len(procs) != 1 else ''} "
            f"({_examples(procs)}); verify does not follow subprocesses: any training there is not compared."
        )
    stopped = result.get("stopped_by_max_steps")
    if stopped and max_steps is not None:
        out.append(
            f"--max-steps {max_steps} ended the script after {max_steps} steps of {stopped} "
            "outside fit(); the rest of the script did not run in any run."
        )
    for capture in result.get("captures") or []:
        extra = [o for o in capture.get("optimizers") or [] if o.get("attribute") != "optimizer"]
        if extra:
            names = ", ".join(f"{o['attribute']} ({str(o['class']).rsplit('.', 1)[-1]})" for o in extra)
            out.append(
                f"fit #{capture.get('index', 0) + 1}: optimizers kept as model attributes were "
                f"compared too: {names}."
            )
    return out


# Fingerprint fields that describe the hardware a run executed on.  The host
# name is reported but not compared: two nodes of one type are the same
# hardware.
HARDWARE_FIELDS = ("machine", "cpu", "cpu_count", "cpus_usable", "tensorflow.devices", "tensorflow.device_models")


def _hardware(env: dict[str, Any] | None) -> dict[str, Any]:
    env = env or {}
    tf_info = env.get("tensorflow") or {}
    flat = {key: env.get(key) for key in HARDWARE_FIELDS if "." not in key}
    flat["tensorflow.devices"] = tf_info.get("devices")
    flat["tensorflow.device_models"] = tf_info.get("device_models")
    return flat


def hardware_differences(runs: list[tuple[str, dict[str, Any] | None]]) -> list[str]:
    """One line per run whose hardware differs from the first run's, e.g.
    when ``--launcher`` placed the runs on different node types."""
    envs = [(label, (result or {}).get("environment")) for label, result in runs if result]
    if len(envs) < 2:
        return []
    ref_label, ref_env = envs[0]
    ref = _hardware(ref_env)
    out = []
    for label, env in envs[1:]:
        other = _hardware(env)
        changed = [f"{key} {other[key]!r} (vs {ref[key]!r})" for key in HARDWARE_FIELDS if other[key] != ref[key]]
        if changed:
            host = (env or {}).get("hostname")
            where = f" on host {host!r}" if host and host != (ref_env or {}).get("hostname") else ""
            out.append(f"{label} ran on different hardware than {ref_label}{where}: " + ", ".join(changed))
    return out


def hardware_note(differences: list[str]) -> str | None:
    """The caveat attached to the verdict when the runs' hardware differs."""
    if not differences:
        return None
    return ("the runs did not all execute on the same hardware (" + "; ".join(differences) + "): "
            "results are not expected to be bitwise identical across hardware, so a split may come "
            "from the hardware, not the script; make the launcher place every run on one node type.")
