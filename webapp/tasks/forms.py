"""Task forms: the quick "add a task" line, the full edit form and "move to project"."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import SelectField, StringField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length, Optional, ValidationError

from ..forms import ClockField, DayField, single_line, strip
from ..models import MAX_TITLE_LENGTH, Priority, Project, Status, Task
from ..timezones import now_utc
from .queries import parse_id
from .quick_add import Part, QuickAdd, read_line
from .services import TagError, TaskChanges, local_due_parts, parse_tags, tags_text

MAX_QUICK_ADD_LENGTH = 400  # the title with its date, project, tags and priority
STATUS_CHOICES = [SelectChoice(status.value, status.label) for status in Status]
PRIORITY_CHOICES = [SelectChoice(priority.name.lower(), priority.label) for priority in Priority]


def _project_id(value) -> int | None:
    return value if isinstance(value, int) else parse_id(value)


class _ProjectChoice:
    """A project select offering only the user's own, not archived, projects."""

    project_required = False

    def offer_projects(self, projects: list[Project]) -> None:
        self.projects_by_id = {project.id: project for project in projects}
        self.project_id.choices = [SelectChoice(project.id, project.name) for project in projects]

    def validate_project_id(self, field) -> None:
        chosen = bool(field.raw_data and field.raw_data[0])
        if chosen and field.data not in self.projects_by_id:
            raise ValidationError("Choose one of your projects.")
        if not chosen and self.project_required:
            raise ValidationError("Choose a project.")

    @property
    def project(self) -> Project | None:
        return self.projects_by_id.get(self.project_id.data)


def _title_field(label: str, max_length: int = MAX_TITLE_LENGTH) -> StringField:
    return StringField(
        label,
        filters=[strip],
        validators=[
            DataRequired("Give the task a title."),
            Length(max=max_length, message=f"A title can be at most {max_length} characters."),
            single_line,
        ],
    )


class NewTaskForm(_ProjectChoice, FlaskForm):
    """Quick add: the title line may also say when, where, which tags and how urgent
    (webapp/tasks/quick_add.py), read in the user's time zone."""

    title = _title_field("New task", max_length=MAX_QUICK_ADD_LENGTH)
    project_id = SelectField("Project", coerce=_project_id, validate_choice=False, validators=[Optional()])
    timezone = "UTC"  # the user's, set by the view
    understood: QuickAdd | None = None

    def validate_title(self, field) -> None:
        names = [project.name for project in self.projects_by_id.values()]
        self.understood = read_line(field.data, self.timezone, now_utc(), names)
        check_understood(self.understood)

    def part_at(self, start: int | None) -> Part | None:
        """The recognised part of the line that starts at `start`."""
        parts = self.understood.parts if self.understood else ()
        return next((part for part in parts if part.start == start), None)

    @property
    def project(self) -> Project | None:
        """The project the line names (`#name`), else the one chosen in the select."""
        named = self.understood and self.understood.project
        by_name = {project.name: project for project in self.projects_by_id.values()}
        return by_name[named] if named else super().project


def check_understood(understood: QuickAdd) -> None:
    """Refuse a quick-add line whose title is empty or too long once its parts are read off, or
    whose tags cannot be kept."""
    if not understood.title:
        raise ValidationError("Give the task a title, not only a date, project, tags or priority.")
    if len(understood.title) > MAX_TITLE_LENGTH:
        raise ValidationError(f"A title can be at most {MAX_TITLE_LENGTH} characters.")
    try:
        parse_tags(",".join(understood.tags))
    except TagError as error:
        raise ValidationError(str(error)) from error


class TaskForm(_ProjectChoice, FlaskForm):
    title = _title_field("Title")
    notes = TextAreaField(
        "Notes", validators=[Length(max=10_000, message="Notes can be at most 10,000 characters.")]
    )
    status = SelectField("Status", choices=STATUS_CHOICES, validate_choice=True)
    priority = SelectField("Priority", choices=PRIORITY_CHOICES, validate_choice=True)
    due_date = DayField("Due date", validators=[Optional()])
    due_time = ClockField("Time", validators=[Optional()])
    tags = StringField("Tags", filters=[strip], validators=[single_line])
    project_id = SelectField("Project", coerce=_project_id, validate_choice=False)
    project_required = True

    @classmethod
    def for_task(cls, task: Task, tz_name: str) -> TaskForm:
        due_date, due_time = local_due_parts(task, tz_name)
        return cls(
            data={
                "title": task.title,
                "notes": task.notes,
                "status": task.status,
                "priority": Priority(task.priority).name.lower(),
                "due_date": due_date,
                "due_time": due_time,
                "tags": tags_text(task),
                "project_id": task.project_id,
            }
        )

    def validate_due_time(self, field) -> None:
        if field.data is not None and self.due_date.data is None and not self.due_date.errors:
            raise ValidationError("Add a due date for this time, or clear the time.")

    def validate_tags(self, field) -> None:
        try:
            parse_tags(field.data or "")
        except TagError as error:
            raise ValidationError(str(error)) from error

    def changes(self) -> TaskChanges:
        """The validated input (call after validate_on_submit())."""
        return TaskChanges(
            title=self.title.data,
            notes=self.notes.data or "",
            status=Status(self.status.data),
            priority=Priority[self.priority.data.upper()],
            project=self.project,
            due_date=self.due_date.data,
            due_time=self.due_time.data,
            tags=parse_tags(self.tags.data or ""),
        )
