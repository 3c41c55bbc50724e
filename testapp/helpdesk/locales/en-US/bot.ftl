# The help desk Page's texts in English.
helpdesk-hello = Hello { $name }! Write "feedback:" followed by your note.
feedback-noted = Thanks, noted! Notes from you so far: { $count }.
helpdesk-greeting = A remark? The help desk reads it.
