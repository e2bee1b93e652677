"""Many runs compared: finding them, statistics over seeds, the report's table and curves."""
