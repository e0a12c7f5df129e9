"""Document upload, deletion and download (being written)."""


def _pending(*args, **kwargs):
    raise NotImplementedError


document_upload = document_delete = document_download = _pending
