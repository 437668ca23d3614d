from django.core.exceptions import ValidationError


def validation_detail(error: ValidationError, location: str = "body") -> list[dict]:
    """Django validation errors in the shape django-ninja uses for schema errors, each naming its field."""
    if hasattr(error, "error_dict"):
        return [
            {"loc": [location, field], "msg": message, "type": "value_error"}
            for field, messages in error.message_dict.items()
            for message in messages
        ]
    return [{"loc": [location], "msg": message, "type": "value_error"} for message in error.messages]
