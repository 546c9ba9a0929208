"""Reporting: what people read.

The report texts in English and German (`texts`) and the helpers that use them (`i18n`); tables for the
analysis notebooks (`formatting`) and for the stakeholder report (`report_tables`); pseudonyms and
escaping (`privacy`); month-over-month changes (`changes`) and the report's matrix of who moved
(`matrix_moves`); key figures and the reports index (`report_index`); the CRM export (`crm_export`);
notebook 00's overview of the data (`overview`); the HTML template (`templates/`) and the charts
(`plots/`). Imports every analysis package, never `pipeline`."""
