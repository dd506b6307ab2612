"""The course's applications, built on the core: translation first."""
