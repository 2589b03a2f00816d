"""What the pages show, computed without streamlit: scoreboard, costs, decision, export, presets."""
