DROP TABLE testapp_feedback;
