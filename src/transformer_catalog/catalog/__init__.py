"""The catalog: one YAML file per model, validated by a typed schema, and every view generated
from it. Nothing here imports torch, so catalog commands start instantly."""
