"""延期申请: a lead department asking the office for more time on one report."""
