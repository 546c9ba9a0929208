"""Reporting: what people read.

Texts in English and German (`i18n`), table formatting (`formatting`), pseudonymisation (`privacy`),
month-over-month changes (`changes`), key figures and the reports index (`report_index`), the CRM
export (`crm_export`), notebook 00's overview (`overview`), report templates (`templates/`) and the
charts (`plots/`). Imports every analysis package, never `pipeline`."""
