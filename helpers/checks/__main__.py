"""`python -m helpers.checks`: copy the questions' titles and points from the source notebooks."""

from helpers.checks import catalog

if __name__ == "__main__":
    print(f"wrote {catalog.write()}")
