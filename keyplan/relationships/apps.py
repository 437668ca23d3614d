from django.apps import AppConfig


class RelationshipsConfig(AppConfig):
    name = "keyplan.relationships"
    label = "relationships"
    verbose_name = "Relationships"
