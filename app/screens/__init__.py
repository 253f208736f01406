"""Screens of the playground TUI: the main screen and its dialogs."""
