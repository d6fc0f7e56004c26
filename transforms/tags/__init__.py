"""Agency, dateline place, places mentioned, publisher tags, taxonomy topics."""
