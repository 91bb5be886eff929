"""ragviz: the entry point. Navigation and the sidebar (ragviz/ui/routing.py); every page lives in pages/.

Page runs do not hold the page gate (ragviz/page_gate.py): with several students on one server
someone's page is nearly always running, and the gate then starved everyone's training.
"""

from ragviz.ui.routing import app_navigation
from ragviz.ui.view_url import keep_view_link

app_navigation().run()
keep_view_link()  # after the page: the view it leaves into the URL, and "Copy link"
