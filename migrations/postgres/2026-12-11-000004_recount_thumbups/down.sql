-- Nothing to undo: the counts stay right for the previous schema's single Page.
SELECT 1;
