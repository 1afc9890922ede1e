"""Fixes applied to Prism's Go source before the project builds it (``infra.prism``).

Each patch replaces one passage of one file of Beam's Go module, which must hold it exactly
once: a Beam version whose source has moved on fails the build with one line naming the
patch, never builds a Prism without it. ``LEVEL`` is part of the built binary's folder, so
a changed set of patches builds anew instead of reusing an older binary.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from finradar.errors import FinradarError

LEVEL = "finradar1"


@dataclass(frozen=True)
class SourcePatch:
    name: str
    path: str  # inside the module
    old: str
    new: str


_WORKER_GO = "go/pkg/beam/runners/prism/internal/worker/worker.go"

# A worker that dies mid-bundle ends its control stream in two ways at once: the stream's
# context is done, and its receiving goroutine reports the stream cancelled. Prism's
# ``W.Control`` selects on both. On the first it fails the worker's active instructions
# ("SDK worker disconnected"); on the second it returned without a word to them, so the job
# waited for those bundles forever. Go picks at random between ready cases: a killed
# worker hung a pass now and then (seen in test_prism's crash test, 2 runs in 5 under load;
# present in Beam 2.77.0 and 2.78.0). Here the second way fails them too. A worker that
# ends the stream from its own side takes the second way every time: with Beam's own Prism
# the job of tests/integration/test_prism_patches.py never ends, with this one it fails.
CONTROL_STREAM_END = SourcePatch(
    name="fail-active-instructions-when-the-control-stream-ends",
    path=_WORKER_GO,
    old="""\
		case err := <-done:
			if err != nil {
				slog.Warn("Control done", "error", err, "worker", wk)
			} else {
				slog.Debug("Control done", "worker", wk)
			}
			return err
""",
    new="""\
		case err := <-done:
			if err != nil {
				slog.Warn("Control done", "error", err, "worker", wk)
			} else {
				slog.Debug("Control done", "worker", wk)
			}
			// finradar: no instruction outlives its worker's control stream
			wk.mu.Lock()
			msg := fmt.Sprintf("SDK worker disconnected: %v, %v active instructions, error: %v",
				wk.String(), len(wk.activeInstructions), err)
			for instID, b := range wk.activeInstructions {
				b.Respond(&fnpb.InstructionResponse{InstructionId: instID, Error: msg})
			}
			wk.mu.Unlock()
			return err
""",
)

PATCHES = (CONTROL_STREAM_END,)


def apply_patches(root: Path, version: str) -> None:
    """Applies ``PATCHES`` to the copy of Beam's Go module (v``version``) at ``root``."""
    for patch in PATCHES:
        path = root / patch.path
        text = path.read_text(encoding="utf-8") if path.is_file() else ""
        if text.count(patch.old) != 1:
            raise FinradarError(
                f"the Prism patch {patch.name} does not apply to {patch.path} of Beam "
                f"v{version}: update infra/prism_patches.py for that version"
            )
        path.chmod(0o644)
        path.write_text(text.replace(patch.old, patch.new), encoding="utf-8")
