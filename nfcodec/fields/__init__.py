"""Progressive neural fields: composable parts, each growing by stages (see base.ProgressiveField)."""
