"""The engine on the main thread: start an install, say how it ended in the message bar
(one line; a button where there is something to do), offer it when no worker is found, and
notice when the engine folder is deleted while QGIS runs."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from qgis.core import Qgis, QgsApplication
from qgis.PyQt.QtCore import QFileSystemWatcher
from qgis.PyQt.QtWidgets import QDialog, QPlainTextEdit, QPushButton, QVBoxLayout

from . import engine, settings
from .engine_task import EngineTask
from .runtime import shutdown_shared_client

TITLE = "OCGNet"

_task: EngineTask | None = None
_watcher: QFileSystemWatcher | None = None
_log_dialogs: list[QDialog] = []


def running_task() -> EngineTask | None:
    """The install task while one runs."""
    return _task if _task is not None and not _task.done else None


def options(repair: bool = False, **overrides) -> engine.Options:
    """Install options from the settings (folder, torch build, wheelhouse)."""
    values = {
        "root": settings.engine_root(),
        "torch_build": settings.torch_build(),
        "wheelhouse": settings.get("wheelhouse").strip(),
        "repair": repair,
        **overrides,
    }
    return engine.Options(**values)


def push(iface, text: str, level=Qgis.Info, button: tuple[str, Callable] | None = None, duration=0):
    """One message-bar line, with an optional button."""
    bar = iface.messageBar()
    if button is None:
        bar.pushMessage(TITLE, text, level, duration)
        return None
    item = bar.createMessage(TITLE, text)
    label, callback = button
    widget = QPushButton(label, item)
    widget.clicked.connect(callback)
    item.layout().addWidget(widget)
    bar.pushWidget(item, level, duration)
    return widget


def start_install(
    iface,
    repair: bool = False,
    opts: engine.Options | None = None,
    on_done: Callable[[EngineTask], None] | None = None,
) -> EngineTask:
    """Queue the install task (one at a time); its end is reported in the message bar."""
    global _task
    if running_task() is not None:
        push(iface, "an engine install is already running", Qgis.Info, duration=5)
        return _task
    opts = opts or options(repair=repair)

    def finished(task: EngineTask) -> None:
        report(iface, task)
        if on_done is not None:
            on_done(task)

    _task = EngineTask(opts, on_finished=finished)
    QgsApplication.taskManager().addTask(_task)
    return _task


def report(iface, task: EngineTask) -> None:
    """Point the worker setting at a new engine, or say in one line why not."""
    root = Path(task.options.root)
    if task.outcome is not None:
        marker = task.outcome.marker
        settings.put("python", marker["python"])
        settings.put("engine_dir", str(root))
        if task.outcome.action != "unchanged":
            shutdown_shared_client()  # the next run starts the new engine's worker
        watch(iface, root)
        push(iface, task.outcome.message, Qgis.Success, duration=10)
        return
    error = task.error
    if error.code == "cancelled":
        push(iface, "engine install cancelled; nothing was installed", Qgis.Info, duration=8)
        return
    button = ("Show log", lambda: show_log(root)) if (root / engine.LOG).is_file() else None
    push(iface, f"engine install failed: {error.message}", Qgis.Critical, button)


def offer_install(iface, text: str) -> None:
    """The message-bar line with an *Install engine…* button (never a modal dialog)."""
    push(iface, text, Qgis.Warning, ("Install engine…", lambda: open_settings(iface)))


def open_settings(iface) -> bool:
    """The settings dialog (engine section included); True when accepted."""
    from .settings_dialog import SettingsDialog

    dialog = SettingsDialog(iface.mainWindow(), iface=iface)
    accepted = bool(dialog.exec_())
    if accepted:
        shutdown_shared_client()  # the next run starts a worker with the new settings
    return accepted


def remove_engine(iface, root: Path | None = None) -> None:
    """Stop the worker and delete the engine folder; the worker setting is cleared when it
    pointed into it."""
    root = Path(root or settings.engine_root())
    shutdown_shared_client()
    if _watcher is not None and str(root) in _watcher.directories():
        _watcher.removePath(str(root))
    engine.remove(root)
    if engine.is_inside(settings.get("python") or "/nonexistent-ocgnet", root):
        settings.put("python", "")
    push(iface, f"OCGNet engine removed from {root}", Qgis.Info, duration=8)


def show_log(root: Path | None = None, parent=None) -> QDialog:
    """The install log in a non-modal window."""
    root = Path(root or settings.engine_root())
    try:
        text = (root / engine.LOG).read_text(encoding="utf-8")
    except OSError:
        text = f"no install log in {root}"
    start = text.rfind(engine.LOG_HEADER)
    if start > 0:  # the last run first, then the earlier ones
        text = text[start:] + "\n\nearlier runs:\n" + text[:start]
    dialog = QDialog(parent)
    dialog.setWindowTitle("OCGNet engine: install log")
    dialog.resize(900, 500)
    view = QPlainTextEdit(dialog)
    view.setReadOnly(True)
    view.setPlainText(text)
    QVBoxLayout(dialog).addWidget(view)
    dialog.show()
    _log_dialogs[:] = [*[d for d in _log_dialogs if d.isVisible()], dialog]
    return dialog


# --- the engine folder deleted while QGIS runs -------------------------------------------------


def watch(iface, root: Path | None = None) -> None:
    """Watch the engine folder of the worker setting; when it disappears (or loses its
    marker) stop the worker and say so once, with the Install button."""
    global _watcher
    root = Path(root or settings.engine_root())
    if engine.working_python(root) is None:
        return
    if _watcher is None:
        _watcher = QFileSystemWatcher()
        _watcher.directoryChanged.connect(lambda path: _changed(iface, Path(path)))
    if str(root) not in _watcher.directories():
        _watcher.addPath(str(root))


def _changed(iface, root: Path) -> None:
    if running_task() is not None or engine.working_python(root) is not None:
        return
    if not engine.is_inside(settings.get("python") or "/nonexistent-ocgnet", root):
        return
    if _watcher is not None and str(root) in _watcher.directories():
        _watcher.removePath(str(root))
    shutdown_shared_client()
    offer_install(iface, settings.engine_missing_message(root))


def stop_watching() -> None:
    global _watcher
    if _watcher is not None:
        _watcher.deleteLater()
        _watcher = None
