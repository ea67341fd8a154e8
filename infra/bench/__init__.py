"""``make bench``: the scheduled sync measured on the product's own CPU, calls and bytes (`__main__`)."""
