"""What a run leaves behind: results.json, junit.xml, summary.md."""
