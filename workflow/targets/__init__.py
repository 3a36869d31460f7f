"""The indicator tracker (指标): page and service."""
