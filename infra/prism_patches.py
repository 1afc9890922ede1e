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

LEVEL = "finradar2"


@dataclass(frozen=True)
class SourcePatch:
    name: str
    path: str  # inside the module
    old: str
    new: str


_WORKER_GO = "go/pkg/beam/runners/prism/internal/worker/worker.go"

# Prism's ``W.Control`` relays instructions to a worker over its control stream. When the
# worker dies, the stream ends three ways at once: its context is done, its receiving
# goroutine reports the stream's end, and a request being sent (a bundle's progress,
# every 100 ms at first) fails. Only on the first did Prism fail the worker's
# active instructions ("SDK worker disconnected") and stop the worker. On the other two it
# returned without a word to them: a bundle waited for its response forever, and the next
# progress request of that bundle waited forever to be sent, so the job never ended. Go
# picks at random between ready cases: a killed worker hung a pass now and then (the
# ``staged`` case of test_prism's crash test, a few full runs in ten, under load; the code
# is the same in Beam 2.77.0 and 2.78.0). Here every way out does what the first does. A
# worker that ends the stream from its own side takes the second way every time: with
# Beam's own Prism the job of test_prism.py's last test never ends, with this one it
# fails.
CONTROL_STREAM_END = (
    SourcePatch(
        name="fail-active-instructions-however-the-control-stream-ends",
        path=_WORKER_GO,
        old="""\
	done := make(chan error, 1)
""",
        new="""\
	done := make(chan error, 1)
	// finradar: however the stream ends, as when its context is done (below)
	disconnected := func(err error) {
		wk.mu.Lock()
		defer wk.mu.Unlock()
		msg := fmt.Sprintf("SDK worker disconnected: %v, %v active instructions, error: %v",
			wk.String(), len(wk.activeInstructions), err)
		for instID, b := range wk.activeInstructions {
			b.Respond(&fnpb.InstructionResponse{InstructionId: instID, Error: msg})
		}
		wk.shutdown()
	}
""",
    ),
    SourcePatch(
        name="a-request-the-stream-cannot-send",
        path=_WORKER_GO,
        old="""\
			if err := ctrl.Send(req); err != nil {
				return err
			}
""",
        new="""\
			if err := ctrl.Send(req); err != nil {
				disconnected(err)
				return err
			}
""",
    ),
    SourcePatch(
        name="the-streams-end-from-the-workers-side",
        path=_WORKER_GO,
        old="""\
				slog.Debug("Control done", "worker", wk)
			}
			return err
""",
        new="""\
				slog.Debug("Control done", "worker", wk)
			}
			disconnected(err)
			return err
""",
    ),
)

PATCHES = CONTROL_STREAM_END


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
