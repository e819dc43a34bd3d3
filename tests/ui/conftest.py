"""UI fixtures: a main window whose dialogs are answered by the test, jobs run synchronously."""

from __future__ import annotations

import pytest


class FakeAsker:
    """Answers the window's questions from queues the test fills; records what was shown."""

    def __init__(self):
        self.paths: list[str] = []
        self.texts: list[str] = []
        self.choices: list[str] = []
        self.trust = True
        self.errors: list[str] = []
        self.infos: list[str] = []
        self.feedbacks: list[str] = []
        self.confirms: list[str] = []  # every yes-or-no question asked
        self.confirm_answer = False
        self.forms: list[dict | None] = []  # each answers one form: its values over the defaults
        self.forms_shown: list[tuple[str, list]] = []  # (title, fields) of every form asked
        self.fill_new_project = None  # called with the real new-project dialog, to fill and create

    def open_paths(self, title, filter=None):
        if not self.paths:
            return []
        got = self.paths.pop(0)
        return list(got) if isinstance(got, list | tuple) else [got]

    def form(self, title, fields, intro="", ok="OK"):
        self.forms_shown.append((title, fields))
        if not self.forms:
            return None
        answer = self.forms.pop(0)
        return None if answer is None else {f.key: f.default for f in fields} | answer

    def new_project(self, identity, runner):
        from annotary.ui.new_project import NewProjectDialog

        dialog = NewProjectDialog(identity, runner, self)
        self.new_project_dialog = dialog
        if self.fill_new_project is not None:
            self.fill_new_project(dialog)
        return str(dialog.created) if dialog.created else None

    def open_path(self, title, filter=None):
        return self.paths.pop(0) if self.paths else None

    def save_path(self, title, suggested, filter=None):
        return self.paths.pop(0) if self.paths else None

    def text(self, title, label):
        return self.texts.pop(0) if self.texts else None

    def choose(self, title, label, options, editable=False):
        return self.choices.pop(0) if self.choices else None

    def confirm_trust(self, preview):
        self.trusted_preview = preview
        return self.trust

    def error(self, title, message):
        self.errors.append(message)

    def info(self, title, message):
        self.infos.append(message)

    def confirm(self, title, message, yes):
        self.confirms.append(message)
        return self.confirm_answer

    def feedback(self, title, markdown):
        self.feedbacks.append(markdown)

    def identity(self):
        return ("Dr. Ada Lee", "annotator")


@pytest.fixture
def asker():
    return FakeAsker()


@pytest.fixture
def window(qtbot, store, identity, asker):
    from annotary.ui.main_window import MainWindow
    from annotary.ui.runner import Runner

    w = MainWindow(store, identity, runner=Runner(synchronous=True), asker=asker)
    qtbot.addWidget(w)
    w.show()
    qtbot.waitExposed(w)
    w.activateWindow()
    return w
