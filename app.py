"""ragviz: the entry point. Navigation and the sidebar (ragviz/ui/routing.py); every page lives in pages/."""

from ragviz.ui.projector import redraw_tables
from ragviz.ui.routing import app_navigation
from ragviz.ui.timeline import record
from ragviz.ui.view_url import keep_view_link

app_navigation().run()
keep_view_link()  # after the page: the view it leaves into the URL, and "Copy link"
redraw_tables()  # a run that changed projector mode runs once more: tables are drawn anew at the new size
record("whole run ended")
