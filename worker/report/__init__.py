"""What a report says, before any layout: figures gathered from the database, words and numbers in
Vietnamese. Nothing here knows ReportLab or Celery."""
