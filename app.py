"""ragviz: the entry point. Navigation and the sidebar (ragviz/ui/routing.py); every page lives in pages/."""

from ragviz.ui.routing import app_navigation

app_navigation().run()
