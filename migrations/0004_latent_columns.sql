CREATE TABLE `latent_columns` (
	`run_id` integer NOT NULL,
	`name` text NOT NULL,
	`version` integer NOT NULL,
	`header` text NOT NULL,
	`body` blob NOT NULL,
	`created_at` integer DEFAULT (cast(unixepoch('subsec') * 1000 as integer)) NOT NULL,
	PRIMARY KEY(`run_id`, `name`),
	FOREIGN KEY (`run_id`) REFERENCES `analysis_runs`(`id`) ON UPDATE no action ON DELETE cascade
);
