ALTER TABLE `analysis_runs` ADD `tile_model` text;--> statement-breakpoint
ALTER TABLE `patches` ADD `max_prob` real;--> statement-breakpoint
ALTER TABLE `patches` ADD `mean_prob` real;--> statement-breakpoint
ALTER TABLE `patches` ADD `uncertainty` real;--> statement-breakpoint
ALTER TABLE `patches` ADD `building_prob` real;--> statement-breakpoint
ALTER TABLE `patches` ADD `novelty_ratio` real;--> statement-breakpoint
ALTER TABLE `tile_scores` ADD `novelty_ratio` real;--> statement-breakpoint
ALTER TABLE `tile_scores` ADD `max_prob` real;--> statement-breakpoint
ALTER TABLE `tile_scores` ADD `uncertainty` real;--> statement-breakpoint
ALTER TABLE `tile_scores` ADD `building_prob_low` real;--> statement-breakpoint
ALTER TABLE `tile_scores` ADD `building_prob_high` real;