"""Task forms: the quick "add a task" line, the full edit form and "move to project"."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import SelectField, StringField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length, Optional, ValidationError

from ..forms import ClockField, DayField, single_line, strip
from ..models import Priority, Project, Status, Task
from .queries import parse_id
from .services import TagError, TaskChanges, local_due_parts, parse_tags, tags_text

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


def _title_field(label: str) -> StringField:
    return StringField(
        label,
        filters=[strip],
        validators=[
            DataRequired("Give the task a title."),
            Length(max=200, message="A title can be at most 200 characters."),
            single_line,
        ],
    )


class NewTaskForm(_ProjectChoice, FlaskForm):
    title = _title_field("New task")
    project_id = SelectField("Project", coerce=_project_id, validate_choice=False, validators=[Optional()])


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
