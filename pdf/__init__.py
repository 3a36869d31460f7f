"""HTML → PDF rendering (WeasyPrint) for the annual evaluation; built with the evaluation issue."""
