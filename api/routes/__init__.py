"""Routes, one module per resource.

Each router carries its full path (``API_PREFIX`` included) so the route a
request matched names its whole template, which metrics use as a label.
"""

API_PREFIX = "/api/v1"
