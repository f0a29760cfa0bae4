"""Registry data as files: the columns of entity and product files, and writing them as CSV and XLSX.

The imports package reads these files; the entities and products packages export them.
"""
