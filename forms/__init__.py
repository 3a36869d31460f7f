"""Flask-WTF forms, one module per area, on a shared BaseForm."""
from flask import flash
from flask_wtf import FlaskForm


class BaseForm(FlaskForm):
    """Every form: CSRF-protected, whitespace stripped from text input."""

    class Meta:
        def bind_field(self, form, unbound_field, options):
            filters = list(unbound_field.kwargs.get("filters", []))
            if unbound_field.field_class.__name__ in {"StringField", "TextAreaField", "PasswordField"}:
                filters.append(lambda v: v.strip() if isinstance(v, str) else v)
            return unbound_field.bind(form=form, filters=filters, **options)


def apply_errors(form, errors: dict[str, str]) -> None:
    """Show a service's field errors (ValidationFailed.errors) on the form; ones without a field are flashed."""
    for name, message in errors.items():
        field = getattr(form, name, None)
        if field is not None and hasattr(field, "errors"):
            field.errors = [*field.errors, message]
        else:
            flash(message, "error")
