"""Training: checkpoints, tasks (data + loss), and one trainer with exact resume."""
