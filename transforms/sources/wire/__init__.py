"""Agency wire items (NewsML-G2, ninjs, NITF) read from a drop folder or bucket."""
