"""Evidence files: the blob stores, uploads that resume, downloads, thumbnails, and the
registration of a protocol once its files have arrived."""
