"""The list of tables, for the migration tool (`python -m playhouse.migrations ... models.registry:MODELS`)."""
from models.base import all_models

MODELS = all_models()
