"""Fresh knowledge: documents a session adds, question/answer proposals, and teaching the adapter."""
